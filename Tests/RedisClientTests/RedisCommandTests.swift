import NIOCore
import Testing

@testable import RedisClient

@Suite("command encoder")
struct RedisCommandTests {
    private func encoded(_ command: RedisCommand) -> String {
        String(buffer: command.encoded)
    }

    @Test func nameOnly() {
        #expect(encoded(RedisCommand("PING")) == "*1\r\n$4\r\nPING\r\n")
    }

    @Test func stringsIntegersAndBytes() {
        let command = RedisCommand("set", "key", .integer(-12), .bytes(ByteBuffer(bytes: [0, 13, 10, 255])))
        #expect(command.name == "SET")
        let expected: [UInt8] = Array("*4\r\n$3\r\nset\r\n$3\r\nkey\r\n$3\r\n-12\r\n$4\r\n".utf8) + [0, 13, 10, 255] + Array("\r\n".utf8)
        #expect(Array(command.encoded.readableBytesView) == expected)
    }

    @Test func emptyAndUnicodeArgumentsCountBytes() {
        #expect(encoded(RedisCommand("ECHO", "")) == "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
        // "é" is two bytes in UTF-8: the length prefix counts bytes, not characters.
        #expect(encoded(RedisCommand("ECHO", "é")) == "*2\r\n$4\r\nECHO\r\n$2\r\né\r\n")
    }

    @Test func manyArguments() {
        let arguments = (0..<12).map { RESPArgument.integer($0) }
        let text = encoded(RedisCommand("RPUSH", arguments))
        #expect(text.hasPrefix("*13\r\n$5\r\nRPUSH\r\n$1\r\n0\r\n"))
        #expect(text.hasSuffix("$2\r\n10\r\n$2\r\n11\r\n"))
    }
}
