import HTTPTypes
import Hummingbird

/// 405 with `Allow` for a known path asked with a method it does not take (RFC 9110
/// §15.5.6): Hummingbird's router alone answers 404, which tells a client that
/// `GET /pay` is a missing resource rather than a wrong method.
enum MethodNotAllowed {
    /// Every method a client may send that some route here could take.
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]

    /// For every path the router has a route for, a 405 handler on each method it does
    /// not take: derived from the router's own routes, so a new route needs no entry here.
    /// `servedBeside`: paths answered before the router (`FastRoutes`), with their methods.
    /// Call once, after every route is added.
    static func addForEveryRoute(of router: Router<AppRequestContext>, servedBeside: [(path: String, methods: [HTTPRequest.Method])] = []) {
        var paths = servedBeside.map { (path: RouterPath($0.path), methods: $0.methods) }
        for route in router.routes {
            if let index = paths.firstIndex(where: { $0.path.description == route.path.description }) {
                paths[index].methods.append(route.method)
            } else {
                paths.append((route.path, [route.method]))
            }
        }
        for (path, methods) in paths {
            add(to: router, path: path, allowed: methods)
        }
    }

    /// Registers a 405 handler on `path` for every method outside `allowed`. Where GET is
    /// allowed so is HEAD: Hummingbird answers it from the GET route.
    private static func add(to router: Router<AppRequestContext>, path: RouterPath, allowed: [HTTPRequest.Method]) {
        let allowed = allowed.contains(.get) && !allowed.contains(.head) ? allowed + [.head] : allowed
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        for method in methods where !allowed.contains(method) {
            router.on(path, method: method) { _, _ -> Response in
                throw Problem(.methodNotAllowed, slug: "method-not-allowed", title: "Method not allowed",
                              detail: "this route takes \(allow) only", headers: [.allow: allow])
            }
        }
    }
}
