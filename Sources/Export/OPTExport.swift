import CM3Objective
import Foundation
import Model

/// A Tessera model as Hugging Face `transformers` reads an OPT model (`OPTForCausalLM`).
/// CM3Leon follows OPT's recipe, and OPT's config can state every choice Tessera makes:
/// pre-LN blocks with a final LayerNorm (`do_layer_norm_before`), LayerNorms without
/// weights (`layer_norm_elementwise_affine: false`), no biases (`enable_bias: false`), the
/// MLP activation, learned positions and an LM head tied to the token embedding.
public enum OPTExport {
    /// OPT's learned positions start at row 2: metaseq kept the first two rows for padding,
    /// and `transformers` adds 2 to every position id. Exported position tables get two
    /// zero rows in front.
    public static let positionOffset = 2

    /// `config.json`.
    public static func config(_ model: ModelConfig, vocabulary: Vocabulary) -> [String: Any] {
        [
            "architectures": ["OPTForCausalLM"],
            "model_type": "opt",
            "vocab_size": model.vocabSize,
            "hidden_size": model.dModel,
            "word_embed_proj_dim": model.dModel,
            "num_hidden_layers": model.layers,
            "num_attention_heads": model.heads,
            "ffn_dim": model.ffn,
            "max_position_embeddings": model.seqLen,
            "do_layer_norm_before": true,
            "_remove_final_layer_norm": false,
            "layer_norm_elementwise_affine": false,
            "enable_bias": false,
            // Tessera's GELU is the tanh approximation, which `transformers` calls gelu_new.
            "activation_function": model.activation == .gelu ? "gelu_new" : "relu",
            "tie_word_embeddings": true,
            "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "layerdrop": 0.0,
            // What fine-tuning in `transformers` draws new weights from: Tessera's init.
            "init_std": ParameterInit.matrixStd,
            "pad_token_id": Int(vocabulary.pad),
            "bos_token_id": Int(vocabulary.eos),
            "eos_token_id": Int(vocabulary.eos),
            "torch_dtype": "float32",
            "use_cache": true
        ]
    }

    /// The weights under OPT's names (`model.` in front of Tessera's, which already follow
    /// metaseq's), full tensors from a one-process model, positions offset by two rows.
    public static func tensors(_ parameters: [NamedParameter]) -> [SafeTensorsWriter.Entry] {
        parameters.map { parameter in
            precondition(parameter.tensor.shape == parameter.fullShape, "export reads a one-process (tp 1) model")
            var shape = parameter.fullShape, values = parameter.tensor.values
            if parameter.spec.role == .positionEmbedding {
                shape[0] += positionOffset
                values = [Float](repeating: 0, count: positionOffset * shape[1]) + values
            }
            return SafeTensorsWriter.Entry(name: "model." + parameter.name, shape: shape, values: values)
        }
    }
}
