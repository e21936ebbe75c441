/// Writes JSON objects with fields in the order given: enough for our responses and
/// problem documents, and deterministic, which stored replays need.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// JSON's `null`, for `field(_:json:)`.
    public static let null = Array("null".utf8)

    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        var object = ObjectWriter()
        body(&object)
        bytes.append(contentsOf: object.finish())
    }

    public struct ObjectWriter {
        private var bytes: [UInt8] = [UInt8(ascii: "{")]
        private var first = true

        private mutating func key(_ name: String) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.appendString(name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        }

        public mutating func field(_ name: String, string value: String) {
            key(name)
            JSONWriter.appendString(value, to: &bytes)
        }

        /// A string, or `null` when there is none.
        public mutating func field(_ name: String, stringOrNull value: String?) {
            guard let value else { return field(name, json: JSONWriter.null) }
            field(name, string: value)
        }

        public mutating func field(_ name: String, integer value: Int64) {
            key(name)
            bytes.append(contentsOf: String(value).utf8)
        }

        /// A finite number with at most three decimals (latencies, rates).
        public mutating func field(_ name: String, number value: Double) {
            key(name)
            let rounded = (value.isFinite ? value : 0) * 1000
            bytes.append(contentsOf: String(Double(Int64(rounded.rounded())) / 1000).utf8)
        }

        public mutating func field(_ name: String, integers values: [Int]) {
            key(name)
            bytes.append(UInt8(ascii: "["))
            bytes.append(contentsOf: values.map(String.init).joined(separator: ",").utf8)
            bytes.append(UInt8(ascii: "]"))
        }

        public mutating func field(_ name: String, strings values: [String]) {
            key(name)
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(value, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        public mutating func field(_ name: String, bool value: Bool) {
            key(name)
            bytes.append(contentsOf: (value ? "true" : "false").utf8)
        }

        /// An array of objects, one per element, each written by `body`.
        public mutating func field<Element>(_ name: String, objects elements: some Sequence<Element>, _ body: (inout ObjectWriter, Element) -> Void) {
            key(name)
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                var nested = ObjectWriter()
                body(&nested, element)
                bytes.append(contentsOf: nested.finish())
            }
            bytes.append(UInt8(ascii: "]"))
        }

        /// A value that is JSON already, put in byte for byte (a stored body that must be
        /// shown exactly as it is answered, or `null`). The caller vouches that `json` is
        /// one JSON value: this writer checks nothing.
        public mutating func field(_ name: String, json value: [UInt8]) {
            key(name)
            bytes.append(contentsOf: value)
        }

        public mutating func field(_ name: String, object body: (inout ObjectWriter) -> Void) {
            key(name)
            var nested = ObjectWriter()
            body(&nested)
            bytes.append(contentsOf: nested.finish())
        }

        fileprivate mutating func finish() -> [UInt8] {
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
