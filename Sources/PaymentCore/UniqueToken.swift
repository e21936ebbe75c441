import Synchronization

/// 32 hex digits, unique for every call in every process: a random prefix drawn once per
/// process, then a counter. For lease owners and request ids, which must never repeat
/// but are no secret (an owner token never leaves the server; a request id is echoed).
///
/// Why not 128 random bits per call: that is a `getrandom` system call per request, on
/// the event loop, for a uniqueness the prefix and the counter already give (two
/// processes share a prefix with probability 2⁻⁶⁴).
public enum UniqueToken {
    private static let prefix: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    public static func next() -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return String(unsafeUninitializedCapacity: 32) { buffer in
            write(prefix, into: buffer, at: 0)
            write(count, into: buffer, at: 16)
            return 32
        }
    }

    private static func write(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let digits: StaticString = "0123456789abcdef"
        for index in 0..<16 {
            let nibble = Int((value >> UInt64((15 - index) * 4)) & 0xF)
            buffer[offset + index] = digits.utf8Start[nibble]
        }
    }
}
