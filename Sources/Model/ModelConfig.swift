/// Shape of the CM3Leon decoder (paper Table 3). Its tensors are listed by the Model
/// module's `ParameterTable`, which also counts them.
public struct ModelConfig: Equatable, Sendable {
    /// The nonlinearity between each block's fc1 and fc2. The CM3Leon paper does not name
    /// one; OPT, whose recipe (metaseq) CM3Leon follows, uses ReLU. Tessera's default is
    /// GELU in its tanh form.
    public enum Activation: String, Equatable, Sendable {
        /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`: the default.
        case gelu
        /// `max(x, 0)`: OPT's (metaseq's) choice.
        case relu
    }

    public var vocabSize: Int
    public var dModel: Int
    public var layers: Int
    public var heads: Int
    public var ffn: Int
    public var seqLen: Int
    public var activation: Activation

    public init(
        vocabSize: Int, dModel: Int, layers: Int, heads: Int, ffn: Int, seqLen: Int, activation: Activation = .gelu
    ) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.layers = layers
        self.heads = heads; self.ffn = ffn; self.seqLen = seqLen; self.activation = activation
    }
}
