import Foundation

/// The `OTEL_*` variables, checked before swift-otel reads them. It reads them itself,
/// but stops the process (a `fatalError`, not a message) on a gRPC exporter, which is
/// not built in (docs/performance.md: its build cost), and on samplers and propagators it
/// parses but does not implement (`baggage` among them, which the OpenTelemetry default
/// `tracecontext,baggage` names); and it takes a malformed ratio as 1.0, tracing
/// everything. Here each is a clear error at startup (exit 78), like every other setting.
public enum TracingEnvironment {
    /// Tracing is on when an OTLP endpoint is set.
    public static let endpoints = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]

    /// Tracing is on when an OTLP endpoint is set, unless `OTEL_SDK_DISABLED=true`, the
    /// standard switch that turns it off whatever else is set.
    public static func isOn(_ environment: [String: String]) -> Bool {
        environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" && endpoints.contains { !(environment[$0] ?? "").isEmpty }
    }

    static let protocols: Set<String> = ["http/protobuf", "http/json"]
    static let samplers: Set<String> = [
        "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
    ]
    static let exporters: Set<String> = ["otlp", "none"]
    static let propagators: Set<String> = ["tracecontext", "none"]

    /// What is wrong, one `NAME: why` a variable; empty when tracing can start.
    public static func problems(_ environment: [String: String]) -> [String] {
        var problems: [String] = []
        for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
            if let value = environment[name], !protocols.contains(value) {
                problems.append("\(name): \(value.debugDescription) is not built in; use http/protobuf (gRPC is left out of this build)")
            }
        }
        if let sampler = environment["OTEL_TRACES_SAMPLER"], !samplers.contains(sampler) {
            problems.append("OTEL_TRACES_SAMPLER: \(sampler.debugDescription) is not one of \(samplers.sorted().joined(separator: ", "))")
        }
        if let ratio = environment["OTEL_TRACES_SAMPLER_ARG"], !(Double(ratio).map { (0...1).contains($0) } ?? false) {
            problems.append("OTEL_TRACES_SAMPLER_ARG: \(ratio.debugDescription) is not a ratio from 0 to 1")
        }
        if let list = environment["OTEL_PROPAGATORS"] {
            let unknown = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !propagators.contains($0) }
            if !unknown.isEmpty {
                problems.append("OTEL_PROPAGATORS: \(unknown.joined(separator: ", ")) not built in; use tracecontext (W3C traceparent)")
            }
        }
        if let exporter = environment["OTEL_TRACES_EXPORTER"], !exporters.contains(exporter) {
            problems.append("OTEL_TRACES_EXPORTER: \(exporter.debugDescription) is not built in; use otlp")
        }
        return problems
    }
}
