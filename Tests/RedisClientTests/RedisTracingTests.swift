import InMemoryTracing
import NIOCore
import RedisClient
import RedisTestSupport
import Testing
import Tracing

/// The client's spans: one per command sent while a caller's span is current, none
/// outside one, and a script with its WAIT as one span each, whatever it took to answer.
@Suite("spans of Redis commands", .redisServer())
struct RedisTracingTests {
    @Test func aScriptAndItsWaitEndOnceAfterTheReloadANoScriptAsksFor() async throws {
        let tracer = InMemoryTracer()
        let script = RedisScript(name: "tracing_probe", "return redis.call('INCR', KEYS[1])")
        let parent = tracer.startSpan("payment", ofKind: .server)
        try await withClient(try makeClient(try RedisServer.required(), tracer: tracer)) { client async throws in
            // Outside any span: no span.
            _ = try await client.send("SCRIPT", "FLUSH")
            let (_, acknowledged) = try await ServiceContext.withValue(parent.context) {
                try await client.evaluate(script, keys: ["it:traced-wait"], arguments: [], waitingFor: 0, timeout: .milliseconds(100))
            }
            #expect(acknowledged == 0)
        }
        parent.end()
        let spans = tracer.finishedSpans
        #expect(spans.map(\.operationName).sorted() == ["EVALSHA tracing_probe", "SCRIPT", "WAIT", "payment"], "nothing for the FLUSH")
        let children = spans.filter { $0.parentSpanID == parent.context.inMemorySpanContext?.spanID }
        #expect(children.count == 3, "the script, its WAIT and the reload, all under the caller's span")
        let evaluation = try #require(spans.first { $0.operationName == "EVALSHA tracing_probe" })
        let reload = try #require(spans.first { $0.operationName == "SCRIPT" })
        #expect(evaluation.attributes["db.operation.name"]?.toSpanAttribute() == .string("EVALSHA"))
        #expect(evaluation.status == nil, "the NOSCRIPT reply was not its end: it answered after the reload")
        #expect(
            evaluation.endInstant.nanosecondsSinceEpoch >= reload.endInstant.nanosecondsSinceEpoch,
            "the script's span covers the reload and the second try"
        )
    }
}
