import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryTracing
import PaymentAPI
import RedisTestSupport
import Testing
import Tracing

/// The spans a request makes, through a real socket and a real redis-server: a server
/// span per request but the probes, the caller's trace continued, the Redis scripts as
/// its children, and nothing of the client's data in any of them. The OTLP export and
/// the processor's `traceparent` are e2e/tracing.sh's.
@Suite("traces: server spans, Redis spans, OTEL settings", .redisServer())
struct TracingHTTPTests {
    @Test func aPaymentIsOneServerSpanInTheCallersTraceWithItsScriptsBelow() async throws {
        let tracer = InMemoryTracer()
        let user = uniqueUser("traced")
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        try await withApp(tracing: RequestTracing(tracer: tracer)) { client in
            let headers: HTTPFields = [
                .contentType: "application/json", HTTPField.Name(InMemoryTracer.traceIDKey)!: traceID,
                HTTPField.Name(InMemoryTracer.spanIDKey)!: "00f067aa0ba902b7",
            ]
            for _ in 1...2 {
                let answer = try await client.pay(payBody(user: user, amount: "123.45", key: "traced-key"), headers: headers)
                #expect(answer.status == .ok)
            }
        }
        let spans = tracer.finishedSpans
        let servers = spans.filter { $0.kind == .server }
        try #require(servers.count == 2, "\(spans.map(\.operationName))")
        for server in servers {
            #expect(server.operationName == "POST /pay")
            #expect(server.traceID == traceID && server.parentSpanID == "00f067aa0ba902b7", "the caller's trace, continued")
            #expect(server.attributes["http.route"]?.toSpanAttribute() == .string("/pay"))
            #expect(server.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
        }
        #expect(servers.map { $0.attributes["payment.outcome"]?.toSpanAttribute() } == [.string("succeeded"), .string("replayed")])
        func children(of server: FinishedInMemorySpan) -> [String] {
            spans.filter { $0.parentSpanID == server.spanID }.map(\.operationName)
        }
        #expect(children(of: servers[0]) == ["EVALSHA begin", "SET", "EVALSHA complete"], "the id indexed; the simulated processor makes no span")
        #expect(children(of: servers[1]) == ["EVALSHA begin"])
        let redis = try #require(spans.first { $0.operationName == "EVALSHA begin" })
        #expect(redis.kind == .client)
        #expect(redis.attributes["db.system.name"]?.toSpanAttribute() == .string("redis"))
        // Nothing the client sent about its payment: not the user, the key or the amount.
        for span in spans {
            var values: [String] = [span.operationName]
            span.attributes.forEach { _, value in values.append("\(value)") }
            for event in span.events { values.append(event.name) }
            for secret in [user, "traced-key", "12345", "123.45"] {
                #expect(!values.contains { $0.contains(secret) }, "\(span.operationName) holds \(secret): \(values)")
            }
        }
    }

    @Test func probesMakeNoSpanAndARouterRouteIsNamedByItsPatternNotItsPath() async throws {
        let tracer = InMemoryTracer()
        let user = uniqueUser("ledger-traced")
        try await withApp(tracing: RequestTracing(tracer: tracer)) { client in
            for (uri, status) in [("/healthz", HTTPResponse.Status.ok), ("/metrics", .ok), ("/ledger/\(user)", .ok), ("/no-such-route", .notFound)] {
                let answer = try await client.executeRequest(uri: uri, method: .get, headers: [:], body: nil)
                #expect(answer.status == status, "\(uri)")
            }
        }
        let servers = tracer.finishedSpans.filter { $0.kind == .server }
        #expect(servers.map(\.operationName) == ["GET /ledger/{user_id}", "GET"], "no span for /healthz or /metrics")
        #expect(servers.first?.attributes["http.route"]?.toSpanAttribute() == .string("/ledger/{user_id}"))
        #expect(servers.last?.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(404))
        #expect(!tracer.finishedSpans.contains { $0.operationName.contains(user) })
    }

    @Test func aTracingSettingThisBuildCannotHonourIsRefusedAtStartup() {
        #expect(!TracingEnvironment.isOn([:]) && !TracingEnvironment.isOn(["OTEL_EXPORTER_OTLP_ENDPOINT": ""]))
        #expect(TracingEnvironment.isOn(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"]))
        #expect(!TracingEnvironment.isOn(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"]))
        let good = [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1", "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_PROPAGATORS": "tracecontext",
        ]
        #expect(TracingEnvironment.problems(good).isEmpty)
        let refused: [(String, String)] = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"), ("OTEL_TRACES_SAMPLER", "xray"),
            ("OTEL_TRACES_SAMPLER_ARG", "10%"), ("OTEL_TRACES_SAMPLER_ARG", "1.5"), ("OTEL_TRACES_SAMPLER_ARG", "-0.1"),
            ("OTEL_TRACES_EXPORTER", "zipkin"), ("OTEL_PROPAGATORS", "tracecontext,baggage"), ("OTEL_PROPAGATORS", "b3"),
        ]
        for (name, value) in refused {
            var environment = good
            environment[name] = value
            let problems = TracingEnvironment.problems(environment)
            #expect(problems.count == 1 && problems[0].hasPrefix("\(name):"), "\(name)=\(value): \(problems)")
        }
    }
}
