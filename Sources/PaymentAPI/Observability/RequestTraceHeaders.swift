import HTTPTypes
import Tracing
import W3CTraceContext

/// A request's headers as a tracer's propagator reads them: `traceparent` and
/// `tracestate` only as W3C's parser accepts them, and never their values in a log line.
///
/// Why not the headers as they came: swift-otel's propagator throws on a `traceparent` or
/// `tracestate` it cannot parse, and its tracer then logs a warning with the whole carrier
/// described, so every header of the request, an `Authorization` bearer key included,
/// went into our logs, one line a request, for any client to cause. And it drops a valid
/// `traceparent` when the `tracestate` beside it is junk, which W3C Trace Context forbids
/// ("failure to parse tracestate MUST NOT affect the parsing of traceparent").
/// So here, with the same parser the propagator uses (swift-w3c-trace-context):
/// - a `traceparent` it refuses (and two of them, joined) is not there: the propagator
///   finds none, throws nothing, and the server span starts a new trace, as W3C asks;
/// - a `tracestate` it refuses beside a valid `traceparent` is not there: the trace goes on;
/// - a `tracestate` longer than 512 bytes is not there, unparsed: W3C asks a vendor to pass
///   on at least 512 characters and lets it drop the rest, and the parser's cost grows with
///   the length (7.5 ms for 8,000 bytes in a debug build, and a request's headers may hold
///   32 KiB), which a client should not be able to buy per request;
/// - the description is the headers' names, never their values.
/// Other keys (an in-memory tracer's in tests) are read as they are.
struct RequestTraceHeaders: CustomStringConvertible {
    let fields: HTTPFields
    /// `traceparent`, when W3C's parser accepts it.
    let traceparent: String?
    /// `tracestate`, when `traceparent` is there, it is at most 512 bytes, and the parser
    /// accepts the two.
    let tracestate: String?

    /// W3C's floor for what a vendor passes on, and our ceiling for what we parse.
    static let maximumTracestateBytes = 512

    /// Parsed here, once: a valid pair (or a `traceparent` alone) in one parse; the
    /// `traceparent` again, alone, only when the pair is refused.
    init(_ fields: HTTPFields) {
        self.fields = fields
        let parent = fields[.traceparent]
        let state = fields[.tracestate].flatMap { $0.utf8.count <= Self.maximumTracestateBytes ? $0 : nil }
        if let parent, Self.parses(parent, state) {
            (traceparent, tracestate) = (parent, state)
        } else if let parent, state != nil, Self.parses(parent, nil) {
            (traceparent, tracestate) = (parent, nil)
        } else {
            (traceparent, tracestate) = (nil, nil)
        }
    }

    private static func parses(_ parent: String, _ state: String?) -> Bool {
        (try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: state)) != nil
    }

    var description: String {
        "request headers (\(fields.map(\.name.canonicalName).joined(separator: ", ")); values left out)"
    }

    struct Extractor: Tracing.Extractor {
        func extract(key: String, from carrier: RequestTraceHeaders) -> String? {
            switch key {
            case HTTPField.Name.traceparent.canonicalName: carrier.traceparent
            case HTTPField.Name.tracestate.canonicalName: carrier.tracestate
            default: HTTPField.Name(key).flatMap { carrier.fields[$0] }
            }
        }
    }
}
