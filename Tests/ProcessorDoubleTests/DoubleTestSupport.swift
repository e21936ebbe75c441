import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PaymentCore
import ProcessorDouble
import StrictJSON

/// An answer of the double, read whole.
struct Answer {
    let status: Int
    let body: String
    var headers = HTTPHeaders()

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

    func get(_ path: String, token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await send(request, timeout: .seconds(10))
    }

    /// `GET /charges/{key}`, for keys that need no percent-encoding.
    func lookup(_ key: String = Fixture.key(1), token: String? = nil) async throws -> Answer {
        try await get("/charges/" + key, token: token)
    }

    /// `POST /charges` returning as soon as the answer's head is in: the body is read
    /// by the caller, or not.
    func postReturningAtTheHead(timeout: Duration) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + "/charges")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: Fixture.key(1))
        request.body = .bytes(ByteBuffer(string: Fixture.body()))
        return try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
    }

    /// One `GET` of exactly `target` (sent byte for byte, so paths an URL type would
    /// refuse or re-encode get through) on a connection of its own; the answer's status
    /// line, headers and body as text, read until the double closes the connection.
    func rawGet(_ target: String) async throws -> RawAnswer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let text = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
            var received = ByteBuffer()
            for try await var part in inbound { received.writeBuffer(&part) }
            return String(buffer: received)
        }
        return RawAnswer(text: text)
    }

    func send(method: HTTPMethod, path: String) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        return try await send(request, timeout: .seconds(10))
    }

    private func send(_ request: HTTPClientRequest, timeout: Duration) async throws -> Answer {
        let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body), headers: response.headers)
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

/// An answer read off the socket: `status` from the status line, `body` after the blank line.
struct RawAnswer {
    let text: String

    var status: Int? {
        let line = text.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let fields = line.split(separator: " ")
        return fields.count >= 2 ? Int(fields[1]) : nil
    }

    var body: String {
        guard let range = text.firstRange(of: "\r\n\r\n") else { return "" }
        return String(text[range.upperBound...])
    }

    var answer: Answer { Answer(status: status ?? 0, body: body) }
}
