import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import PaymentCore
import ProcessorDouble

/// An answer of the double, read whole.
struct Answer {
    let status: Int
    let body: String

    /// The body's JSON object member `name` as a string, if there is one.
    func string(_ name: String) -> String? {
        guard case .object(let members)? = try? JSONParser.parse(Array(body.utf8)),
              case .string(let value)? = members.first(where: { $0.key == name })?.value
        else { return nil }
        return value
    }
}

enum Fixture {
    static let logger = Logger(label: "processor-double-tests")

    /// `pk_` and 64 hex digits, as payment-api sends, distinct per `n`.
    static func key(_ n: Int) -> String {
        "pk_" + String(repeating: "0", count: 64 - String(n, radix: 16).count) + String(n, radix: 16)
    }

    /// `pay_` and 32 hex digits, distinct per `n`.
    static func reference(_ n: Int) -> String {
        "pay_" + String(repeating: "0", count: 32 - String(n, radix: 16).count) + String(n, radix: 16)
    }

    static func body(amount: Int = 1234, currency: String = "USD", reference: String = reference(1)) -> String {
        #"{"amount_minor": \#(amount), "currency": "\#(currency)", "reference": "\#(reference)"}"#
    }
}

/// Starts a double on a free port, runs `body`, and shuts it down whatever happens.
func withDouble<T>(_ settings: ProcessorDoubleSettings = .init(), _ body: (ProcessorDouble) async throws -> T) async throws -> T {
    let double = try await ProcessorDouble.start(settings, logger: Fixture.logger)
    do {
        let result = try await body(double)
        try await double.shutdown()
        return result
    } catch {
        try? await double.shutdown()
        throw error
    }
}

extension ProcessorDouble {
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `POST /charges`; nil arguments leave their header out.
    func post(
        key: String? = Fixture.key(1),
        body: String = Fixture.body(),
        token: String? = nil,
        contentType: String? = "application/json",
        timeout: Duration = .seconds(10)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + "/charges")
        request.method = .POST
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let key { request.headers.add(name: "Idempotency-Key", value: key) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request, timeout: timeout)
    }

    func get(_ path: String) async throws -> Answer {
        try await send(HTTPClientRequest(url: baseURL + path), timeout: .seconds(10))
    }

    func send(method: HTTPMethod, path: String) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        return try await send(request, timeout: .seconds(10))
    }

    private func send(_ request: HTTPClientRequest, timeout: Duration) async throws -> Answer {
        let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }

    /// Waits until the ledger satisfies `condition` (at most `limit`), and returns it.
    func ledger(waitingUntil condition: (ProcessorLedger) -> Bool, limit: Duration = .seconds(5)) async throws -> ProcessorLedger {
        let deadline = ContinuousClock.now + limit
        while true {
            let ledger = snapshot()
            if condition(ledger) || ContinuousClock.now >= deadline { return ledger }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
