import Hummingbird
import Logging
import PaymentCore

/// Turns every error into a problem+json response, so each status of the API has the
/// same body shape, including Hummingbird's own 404, 405 and 413.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response(requestID: context.requestID)
        } catch let error as PaymentRequestError {
            return Problem(error).response(requestID: context.requestID)
        } catch let error as any HTTPResponseError {
            return Problem(error).response(requestID: context.requestID)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Problem(.internalServerError, slug: "internal", title: "Internal error", detail: "the server failed to handle the request")
                .response(requestID: context.requestID)
        }
    }
}
