import FuzzSupport
import NIOCore

@testable import RedisClient

/// The hiredis reply reader (what every byte from Redis goes through) on arbitrary
/// bytes. Input: the first byte chooses a split point (its fraction of 255 of the rest);
/// the rest is the stream.
///
/// The stream fed at once, fed in two parts at that point, and fed byte by byte must give
/// the same replies and then the same error, if any: TCP may cut a reply anywhere. Every
/// reply written back as RESP must read back as itself. No crash, and no leak (libFuzzer
/// runs LeakSanitizer on inputs after which allocations are left over).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHiredisReplyReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    let stream = Array(input.dropFirst())
    let cut = Int(first) * stream.count / 255

    let whole = read([stream])
    let halves = read([Array(stream[..<cut]), Array(stream[cut...])])
    let bytewise = read(stream.map { [$0] })
    let context = "cut at \(cut) of \(escaped(stream))"
    invariant(halves == whole, "two parts read \(halves), at once \(whole): \(context)")
    invariant(bytewise == whole, "byte by byte read \(bytewise), at once \(whole): \(context)")

    if !whole.replies.isEmpty {
        var written: [UInt8] = []
        for reply in whole.replies { written += reply }
        let again = read([written])
        invariant(again.replies == whole.replies && again.error == nil,
                  "replies written back as \(escaped(written)) read as \(again): \(context)")
    }
    return 0
}

/// What a reader made of a stream fed in `chunks`: each reply as canonical RESP (so that
/// two readings compare byte for byte), and the error that ended it, if any.
private struct Reading: Equatable, CustomStringConvertible {
    var replies: [[UInt8]] = []
    var error: String?

    var description: String {
        "\(replies.count) replies [\(replies.map { escaped($0) }.joined(separator: ", "))] then \(error ?? "no error")"
    }
}

private func read(_ chunks: [[UInt8]]) -> Reading {
    let reader = HiredisReplyReader()
    var reading = Reading()
    do throws(RedisClientError) {
        for chunk in chunks {
            try reader.feed(ByteBuffer(bytes: chunk))
            while let reply = try reader.next() {
                reading.replies.append(resp(reply))
            }
        }
    } catch {
        reading.error = "\(error.kind): \(error.message)"
    }
    return reading
}

private func resp(_ value: RESPValue) -> [UInt8] {
    switch value {
    case .simpleString(let text): Array("+\(text)\r\n".utf8)
    case .error(let text): Array("-\(text)\r\n".utf8)
    case .integer(let number): Array(":\(number)\r\n".utf8)
    case .bulkString(let buffer): Array("$\(buffer.readableBytes)\r\n".utf8) + Array(buffer.readableBytesView) + Array("\r\n".utf8)
    case .null: Array("$-1\r\n".utf8)
    case .array(let elements): Array("*\(elements.count)\r\n".utf8) + elements.flatMap(resp)
    }
}
