import Crypto

/// A Lua script and the SHA1 that EVALSHA names it by.
public struct RedisScript: Sendable, Hashable {
    /// What it does, in a span's name (`EVALSHA begin`): a SHA1 says nothing to a reader.
    public let name: String
    public let source: String
    /// Lower-case hex, as Redis prints it.
    public let sha1: String

    public init(name: String = "script", _ source: String) {
        self.name = name
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8))
            .map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }
            .joined()
    }
}
