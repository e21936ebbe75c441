import HTTPTypes
@testable import PaymentAPI
import Testing
import Tracing

/// What a tracer's propagator may read of a request's trace headers: only what W3C's own
/// parser accepts, a valid `traceparent` kept beside a `tracestate` of junk, and never a
/// header's value in the carrier's description (swift-otel logs it on a parse failure).
@Suite("a request's trace headers, as the propagator reads them")
struct RequestTraceHeadersTests {
    static let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    func read(_ fields: HTTPFields) -> (traceparent: String?, tracestate: String?) {
        let carrier = RequestTraceHeaders(fields)
        let extractor = RequestTraceHeaders.Extractor()
        return (extractor.extract(key: "traceparent", from: carrier), extractor.extract(key: "tracestate", from: carrier))
    }

    @Test func aValidPairIsReadAsItCame() {
        let got = read([.traceparent: Self.parent, .tracestate: "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"])
        #expect(got.traceparent == Self.parent)
        #expect(got.tracestate == "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
    }

    @Test func aTracestateOfJunkIsLeftOutAndTheTraceparentKept() {
        for junk in ["=,;~@", String(repeating: "=,;~@", count: 800), "UPPER=case", "k=v,;"] {
            let got = read([.traceparent: Self.parent, .tracestate: junk])
            #expect(got.traceparent == Self.parent, "\(junk.prefix(20))")
            #expect(got.tracestate == nil, "\(junk.prefix(20))")
        }
    }

    @Test func aTracestateOver512BytesIsLeftOutUnparsedAndTheTraceparentKept() {
        // Valid members, 33 bytes each: 15 of them fit in 512 bytes, 16 do not.
        let members = { (count: Int) in (0..<count).map { "vendor\($0 + 10)=" + String(repeating: "v", count: 24) }.joined(separator: ",") }
        #expect(members(15).utf8.count <= RequestTraceHeaders.maximumTracestateBytes)
        #expect(read([.traceparent: Self.parent, .tracestate: members(15)]).tracestate == members(15))
        let long = read([.traceparent: Self.parent, .tracestate: members(16)])
        #expect(members(16).utf8.count > RequestTraceHeaders.maximumTracestateBytes)
        #expect(long.traceparent == Self.parent)
        #expect(long.tracestate == nil)
    }

    @Test(arguments: [
        "00-" + String(repeating: "a", count: 100) + "-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-zzf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-abc-def-01",
        "",
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
    ])
    func aTraceparentTheParserRefusesIsNotThereAndNeitherIsItsTracestate(_ value: String) {
        let got = read([.traceparent: value, .tracestate: "congo=t61rcWkgMzE"])
        #expect(got.traceparent == nil)
        #expect(got.tracestate == nil)
    }

    @Test func twoTraceparentsAreNotOne() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .traceparent, value: Self.parent))
        fields.append(HTTPField(name: .traceparent, value: "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        #expect(read(fields).traceparent == nil)
    }

    @Test func otherKeysAreReadAsTheyCame() {
        let carrier = RequestTraceHeaders([HTTPField.Name("in-memory-trace-id")!: "not W3C at all"])
        #expect(RequestTraceHeaders.Extractor().extract(key: "in-memory-trace-id", from: carrier) == "not W3C at all")
    }

    @Test func itsDescriptionNamesTheHeadersButHoldsNoValue() {
        let carrier = RequestTraceHeaders([
            .authorization: "Bearer key-a.the-tenants-secret", .traceparent: "00-junk", .contentType: "application/json",
        ])
        let description = "\(carrier)"
        #expect(description.contains("authorization"))
        #expect(!description.contains("the-tenants-secret"))
        #expect(!description.contains("00-junk"))
        #expect(!description.contains("application/json"))
    }
}
