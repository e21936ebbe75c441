import Logging
import PaymentCore
import StrictJSON

/// Writes one log record a line on stdout: a JSON object (`time`, `level`, `msg`, then
/// the metadata) or, for people at a terminal, plain text.
public struct JSONLogHandler: LogHandler {
    public enum Format: Sendable { case json, text }

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format

    public init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = Self.fields(metadata, metadataProvider?.get(), event.metadata)
        let time = Timestamp.now()
        var line: [UInt8]
        switch format {
        case .json:
            var writer = JSONWriter()
            writer.object { object in
                object.field("time", string: time)
                object.field("level", string: event.level.rawValue)
                object.field("msg", string: "\(event.message)")
                object.field("logger", string: label)
                for (key, value) in fields {
                    object.field(key, string: value.description)
                }
            }
            line = writer.bytes
        case .text:
            // Values carry client text (field names, currencies, keys): logfmt-quoted so
            // none of it can start a line or pass for another field.
            let text = fields.map { "\(Self.logfmt($0.key))=\(Self.logfmt($0.value.description))" }.joined(separator: " ")
            line = Array("\(time) \(event.level.rawValue) \(Self.logfmt("\(event.message)")) \(text)".utf8)
        }
        line.append(0x0A)
        Self.write(line)
    }

    /// The line's fields, sorted by key: the logger's, the provider's, then the event's,
    /// a later one replacing an earlier one of the same key. An array, not merged
    /// dictionaries: a line has a handful of fields and every payment writes one.
    static func fields(
        _ layers: Logger.Metadata?...
    ) -> [(key: String, value: Logger.Metadata.Value)] {
        var fields: [(key: String, value: Logger.Metadata.Value)] = []
        fields.reserveCapacity(layers.reduce(0) { $0 + ($1?.count ?? 0) })
        for case let layer? in layers {
            for (key, value) in layer {
                if let index = fields.firstIndex(where: { $0.key == key }) {
                    fields[index].value = value
                } else {
                    fields.append((key, value))
                }
            }
        }
        fields.sort { $0.key < $1.key }
        return fields
    }

    /// `text` as is when it is only printable ASCII without spaces, `"`, `\\` or `=`;
    /// otherwise in double quotes with `"`, `\\` and every control character escaped.
    /// Non-ASCII text stays readable: only C0, DEL and C1 controls and the Unicode line
    /// and paragraph separators are escaped.
    static func logfmt(_ text: String) -> String {
        let isPlain = !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "=")
        }
        if isPlain { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                quoted += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// Writes every line logged so far: before the process exits.
    public static func flush() {
        LogLineWriter.standardOutput.flush()
    }

    /// Whole lines, written off the calling thread (the event loop, for a payment's line).
    private static func write(_ line: [UInt8]) {
        LogLineWriter.standardOutput.append(line)
    }
}
