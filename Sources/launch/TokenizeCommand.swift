import ArgumentParser
import Diagnostics
import Foundation
import Tokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode standard input's lines with a Hugging Face tokenizer.json, or decode ids back to text.",
        discussion: """
            Prints each line's ids as a JSON array (the ids Hugging Face tokenizers gives with \
            add_special_tokens=False). With --decode, each input line is a JSON array of ids and the \
            text is printed. With --bench FILE, encodes every line of FILE and prints the speed as JSON.
            """)

    @Option(name: .long, help: "A Hugging Face tokenizer.json (byte-level BPE).")
    var tokenizer: String

    @Flag(name: .long, help: "Read JSON arrays of ids and print their text.")
    var decode = false

    @Option(name: .long, help: "Encode every line of this file and print bytes, seconds, MB/s and tokens as JSON.")
    var bench: String?

    func run() throws {
        let loaded = try withReportedErrors { try ByteLevelBPETokenizer(contentsOf: tokenizer) }
        if let bench { return try benchmark(loaded, file: bench) }
        var number = 0
        while let line = readLine(strippingNewline: true) {
            number += 1
            if decode {
                guard let ids = try? JSONDecoder().decode([Int32].self, from: Data(line.utf8)) else {
                    report("standard input: line \(number): expected a JSON array of token ids")
                    throw ExitCode(2)
                }
                print(loaded.decode(ids))
            } else {
                print("[" + loaded.encode(line).map(String.init).joined(separator: ",") + "]")
            }
        }
    }

    /// Encodes every line of `file` once, timed (reading the file is not).
    func benchmark(_ tokenizer: ByteLevelBPETokenizer, file: String) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            report("\(file): cannot be read as UTF-8 text")
            throw ExitCode(2)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let started = Date()
        var tokens = 0
        for line in lines { tokens += tokenizer.encode(line).count }
        let seconds = Date().timeIntervalSince(started), bytes = lines.reduce(0) { $0 + $1.utf8.count }
        print(
            try JSONLine.encode(
                TokenizerSpeed(
                    lines: lines.count, bytes: bytes, tokens: tokens, seconds: seconds,
                    mbPerS: Double(bytes) / 1e6 / seconds)))
    }
}

/// `launch tokenize --bench`'s line.
struct TokenizerSpeed: Encodable {
    let lines: Int, bytes: Int, tokens: Int
    let seconds: Double
    let mbPerS: Double
}
