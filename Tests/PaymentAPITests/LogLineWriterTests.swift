#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
@testable import PaymentAPI
import PaymentCore
import Synchronization
import Testing

/// Log lines are written by a thread of their own: whole, in each writer's order, all of
/// them once flushed; and the time stamp and the media-type check of every payment do
/// without Foundation's parsers.
@Suite("log lines off the event loop")
struct LogLineWriterTests {
    @Test func linesFromManyThreadsArriveWholeInOrderAndAllOnFlush() async throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        // A small batch and limit, so the writer thread (woken by the batch) and the
        // callers past the limit both write, at once.
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        let writer = LogLineWriter(descriptor: writeEnd, interval: .seconds(3_600), batch: 512, limit: 4_096)
        // The reader blocks in read(2): on a thread of its own, never on the concurrency
        // pool, whose two threads every other suite running beside this one needs.
        let received = ReceivedBytes()
        let reader = AsyncStream<Void> { finished in
            Thread {
                var chunk = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = read(readEnd, &chunk, chunk.count)
                    if count <= 0 { break }
                    received.bytes.withLock { $0 += chunk[0..<count] }
                }
                finished.finish()
            }.start()
        }
        let writers = 8, lines = 500
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<writers {
                group.addTask {
                    for line in 0..<lines {
                        writer.append(Array("writer=\(thread) line=\(line) \(String(repeating: "x", count: line % 97))\n".utf8))
                    }
                }
            }
        }
        writer.flush()
        close(writeEnd)
        for await _ in reader {}
        let text = String(decoding: received.bytes.withLock { $0 }, as: UTF8.self)
        var next = [Int](repeating: 0, count: writers)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let thread = Int(fields[0].dropFirst("writer=".count)), let index = Int(fields[1].dropFirst("line=".count)),
                  (fields.count == 2 ? 0 : fields[2].count) == index % 97
            else {
                Issue.record("a cut or mixed line: \(line)")
                return
            }
            #expect(index == next[thread], "writer \(thread)'s lines in order")
            next[thread] = index + 1
        }
        #expect(next == [Int](repeating: lines, count: writers), "every line written once flushed")
    }

    /// Nothing wakes the writer thread here (no batch, no backlog limit, an hour between
    /// its rounds): the lines are written by the flush, all of them, before it returns.
    @Test func aFlushWritesEveryLineQueuedBeforeItReturns() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        defer { close(descriptors[0]) }
        #expect(fcntl(descriptors[0], F_SETFL, O_NONBLOCK) == 0)
        let writer = LogLineWriter(descriptor: descriptors[1], interval: .seconds(3_600), batch: .max, limit: .max)
        for line in ["one", "two", "three"] { writer.append(Array("\(line)\n".utf8)) }
        var buffer = [UInt8](repeating: 0, count: 256)
        #expect(read(descriptors[0], &buffer, buffer.count) == -1, "nothing written before the flush")
        writer.flush()
        close(descriptors[1])
        let count = read(descriptors[0], &buffer, buffer.count)
        #expect(count > 0 && String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) == "one\ntwo\nthree\n")
    }

    @Test func aLinesFieldsAreSortedAndTheEventsValuesWin() {
        let fields = JSONLogHandler.fields(["request_id": "r1", "tenant": "acme"], nil, ["tenant": "other", "outcome": "succeeded"])
        #expect(fields.map(\.key) == ["outcome", "request_id", "tenant"])
        #expect(fields.map(\.value.description) == ["succeeded", "r1", "other"])
        #expect(JSONLogHandler.fields(nil, nil, nil).isEmpty)
    }

    @Test func timestampsAreRFC3339InUTCWithMilliseconds() throws {
        let now = Timestamp.now()
        #expect(now.count == 24 && now.hasSuffix("Z"), "\(now)")
        let parsed = try #require(try Date(now, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSinceNow) < 5)
    }

    @Test(arguments: [
        ("application/json", true), ("Application/JSON; charset=utf-8", true), (" application/json ;x=1", true),
        ("application/problem+json", true), ("application/vnd.api+JSON", true), ("\tapplication/json\t", true),
        ("application/jsonx", false), ("text/json", false), ("application/", false), ("json", false), ("", false),
        ("application/json-seq", false), ("+json", false),
    ])
    func theMediaTypeCheckReadsBytes(contentType: String, isJSON: Bool) {
        #expect(PaymentEndpoint.isJSON(contentType) == isJSON)
    }
}

/// What a reader thread has read so far.
private final class ReceivedBytes: Sendable {
    let bytes = Mutex<[UInt8]>([])
}
