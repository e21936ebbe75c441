import NIOCore

/// The client for callers on an event loop: commands as futures, with no task and no
/// continuation between the caller and the connection.
///
/// For one node the command goes to a connection of `eventLoop` when the client has
/// one there (by default it has one per loop of the group), so it is written and its
/// reply handled on the caller's thread. Every future returned completes on
/// `eventLoop`, and a caller's `decode` turns the reply into its own value in the same
/// callback: one promise per command. Redis Cluster routing (slot map, redirects) is
/// async: there these run the async path in a task, bridged onto `eventLoop`.
extension RedisClient {
    /// Sends one command, as `send(_:routingKey:)` does.
    public func send(_ command: RedisCommand, routingKey: RESPArgument? = nil, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        guard case .standalone(let node) = routing else {
            return eventLoop.makeFutureWithTask { try await self.send(command, routingKey: routingKey) }
        }
        let answer = eventLoop.makePromise(of: RESPValue.self)
        traced(answer.futureResult, span(for: command, script: nil))
        exchange(command, on: node, script: nil, answer: answer) { $0 }
        return answer.futureResult
    }

    /// Runs a script by its SHA1, as `evaluate(_:keys:arguments:)` does: if the node does
    /// not know it, loads it and tries once more. `decode` reads the reply; what it
    /// throws fails the future.
    public func evaluate<Value: Sendable>(
        _ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument], on eventLoop: any EventLoop,
        decode: @escaping @Sendable (RESPValue) throws -> Value
    ) -> EventLoopFuture<Value> {
        guard case .standalone(let node) = routing else {
            return eventLoop.makeFutureWithTask { try decode(try await self.evaluate(script, keys: keys, arguments: arguments)) }
        }
        var parts: [RESPArgument] = [.string(script.sha1), .integer(keys.count)]
        parts.reserveCapacity(2 + keys.count + arguments.count)
        parts += keys
        parts += arguments
        let answer = eventLoop.makePromise(of: Value.self)
        let command = RedisCommand("EVALSHA", parts)
        traced(answer.futureResult, span(for: command, script: script))
        exchange(command, on: node, script: script, answer: answer, decode: decode)
        return answer.futureResult
    }

    public func evaluate(
        _ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument], on eventLoop: any EventLoop
    ) -> EventLoopFuture<RESPValue> {
        evaluate(script, keys: keys, arguments: arguments, on: eventLoop) { $0 }
    }

    /// One command to `node`, its reply recorded and decoded into `answer`. With
    /// `script`, a NOSCRIPT error loads it and sends the command once more.
    private func exchange<Value: Sendable>(
        _ command: RedisCommand, on node: RedisNode, script: RedisScript?, answer: EventLoopPromise<Value>,
        decode: @escaping @Sendable (RESPValue) throws -> Value
    ) {
        let start = ContinuousClock.now
        node.submit(command).whenComplete { result in
            let reply: RESPValue
            do {
                reply = try self.record(result, of: command, since: start)
            } catch {
                guard let script, (error as? RedisClientError)?.serverErrorCode == "NOSCRIPT" else {
                    answer.fail(error)
                    return
                }
                self.load(script, on: node).whenComplete { loaded in
                    switch loaded {
                    case .success: self.exchange(command, on: node, script: nil, answer: answer, decode: decode)
                    case .failure(let error): answer.fail(error)
                    }
                }
                return
            }
            do {
                answer.succeed(try decode(reply))
            } catch {
                answer.fail(error)
            }
        }
    }

    /// Loads a script on `node` so that EVALSHA finds it.
    private func load(_ script: RedisScript, on node: RedisNode) -> EventLoopFuture<Void> {
        let command = RedisCommand("SCRIPT", "LOAD", .string(script.source))
        let start = ContinuousClock.now
        return node.submit(command).flatMapThrowing { reply in
            let reply = try self.record(.success(reply), of: command, since: start)
            guard reply.string == script.sha1 else {
                throw RedisClientError(.protocol, "SCRIPT LOAD returned another SHA1 than the script's")
            }
        }
    }
}
