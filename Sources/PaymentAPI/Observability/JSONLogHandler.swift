import Foundation
import Logging
import PaymentCore

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
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date.now)
        var line: [UInt8]
        switch format {
        case .json:
            var writer = JSONWriter()
            writer.object { object in
                object.field("time", string: time)
                object.field("level", string: event.level.rawValue)
                object.field("msg", string: "\(event.message)")
                object.field("logger", string: label)
                for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                    object.field(key, string: "\(value)")
                }
            }
            line = writer.bytes
        case .text:
            let fields = merged.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = Array("\(time) \(event.level.rawValue) \(event.message) \(fields)".utf8)
        }
        line.append(0x0A)
        // One write per record: lines from concurrent tasks never interleave, and nothing
        // waits in a stdio buffer when stdout is a pipe (as in a container).
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
