import NIOCore
import Testing

@testable import RedisClient

@Suite("hiredis reply reader")
struct HiredisReplyReaderTests {
    /// Feeds `bytes` one byte at a time and returns every reply, checking that no reply
    /// appears before its last byte arrived.
    private func replies(fedByteByByte bytes: [UInt8]) throws -> [RESPValue] {
        let reader = HiredisReplyReader()
        var replies: [RESPValue] = []
        for byte in bytes {
            try reader.feed(ByteBuffer(bytes: [byte]))
            while let reply = try reader.next() {
                replies.append(reply)
            }
        }
        return replies
    }

    private func reply(_ text: String) throws -> RESPValue? {
        let all = try replies(fedByteByByte: Array(text.utf8))
        try #require(all.count == 1, "expected one reply, got \(all.count)")
        return all.first
    }

    @Test func simpleString() throws {
        #expect(try reply("+OK\r\n") == .simpleString("OK"))
    }

    @Test func errorReply() throws {
        #expect(try reply("-ERR unknown command 'FOO'\r\n") == .error("ERR unknown command 'FOO'"))
    }

    @Test func integers() throws {
        #expect(try reply(":0\r\n") == .integer(0))
        #expect(try reply(":-42\r\n") == .integer(-42))
        #expect(try reply(":9223372036854775807\r\n") == .integer(.max))
    }

    @Test func bulkStrings() throws {
        #expect(try reply("$5\r\nhello\r\n") == .bulkString(ByteBuffer(string: "hello")))
        #expect(try reply("$0\r\n\r\n") == .bulkString(ByteBuffer()))
        // Bulk strings are binary safe: CR LF inside the payload is data.
        #expect(try reply("$4\r\na\r\nb\r\n") == .bulkString(ByteBuffer(string: "a\r\nb")))
    }

    @Test func nullBulkAndNullArrayAreNull() throws {
        #expect(try reply("$-1\r\n") == .null)
        #expect(try reply("*-1\r\n") == .null)
    }

    @Test func arrays() throws {
        #expect(try reply("*0\r\n") == .array([]))
        let nested = "*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*1\r\n*1\r\n-ERR inner\r\n"
        #expect(try reply(nested) == .array([
            .integer(1),
            .array([.simpleString("a"), .null]),
            .array([.array([.error("ERR inner")])]),
        ]))
    }

    @Test func oneMebibyteBulkString() throws {
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let bytes = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
        let all = try replies(fedByteByByte: bytes)
        #expect(all == [.bulkString(ByteBuffer(bytes: payload))])
    }

    @Test func severalRepliesInOneFeed() throws {
        let reader = HiredisReplyReader()
        try reader.feed(ByteBuffer(string: "+A\r\n:2\r\n$1\r\nc\r\n+partial"))
        #expect(try reader.next() == .simpleString("A"))
        #expect(try reader.next() == .integer(2))
        #expect(try reader.next() == .bulkString(ByteBuffer(string: "c")))
        #expect(try reader.next() == nil)
        try reader.feed(ByteBuffer(string: "\r\n"))
        #expect(try reader.next() == .simpleString("partial"))
    }

    @Test func invalidBytesAreAProtocolError() throws {
        let reader = HiredisReplyReader()
        try reader.feed(ByteBuffer(string: "?what\r\n"))
        let error = #expect(throws: RedisClientError.self) { try reader.next() }
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("Protocol error") == true)
    }
}
