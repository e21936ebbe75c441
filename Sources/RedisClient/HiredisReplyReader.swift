import CHiredis
import NIOCore

/// Feeds received bytes to hiredis's reply reader and converts its replies to `RESPValue`.
///
/// Not Sendable: it owns a C reader and is used by one channel handler on one event loop.
/// After a parse error hiredis's reader is unusable; the connection must be closed.
final class HiredisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else {
            fatalError("hiredis could not allocate a reply reader (out of memory)")
        }
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    func feed(_ buffer: ByteBuffer) throws(RedisClientError) {
        let status = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return chiredis_ok() }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != chiredis_ok() {
            throw RedisClientError(.protocol, "hiredis could not buffer the reply")
        }
    }

    /// The next complete reply, or nil when more bytes are needed.
    func next() throws(RedisClientError) -> RESPValue? {
        var reply: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &reply) == chiredis_ok() else {
            throw RedisClientError(.protocol, String(cString: chiredis_reader_errstr(reader)))
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return try Self.value(of: reply.assumingMemoryBound(to: redisReply.self))
    }

    private static func value(of pointer: UnsafePointer<redisReply>) throws(RedisClientError) -> RESPValue {
        let reply = pointer.pointee
        switch reply.type {
        case chiredis_reply_string():
            return .bulkString(ByteBuffer(bytes: UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len))))
        case chiredis_reply_status():
            return .simpleString(text(of: reply))
        case chiredis_reply_error():
            return .error(text(of: reply))
        case chiredis_reply_integer():
            return .integer(Int64(reply.integer))
        case chiredis_reply_nil():
            return .null
        case chiredis_reply_array():
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(reply.elements))
            for index in 0..<Int(reply.elements) {
                guard let element = reply.element[index] else {
                    throw RedisClientError(.protocol, "hiredis returned an array with a missing element")
                }
                elements.append(try value(of: element))
            }
            return .array(elements)
        default:
            // RESP3 types (hiredis 1.x can parse them) never arrive: we never send HELLO 3.
            throw RedisClientError(.protocol, "unsupported reply type \(reply.type)")
        }
    }

    private static func text(of reply: redisReply) -> String {
        let bytes = UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len))
        return String(decoding: bytes, as: UTF8.self)
    }
}
