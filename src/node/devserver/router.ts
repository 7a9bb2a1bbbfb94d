/**
 * The dev server's route table: a route is a method (or any), a path (exact, or a RegExp whose
 * groups become `params`) and a handler. The first route that matches answers; a path that no
 * route names falls through to the static files. A table of our own (twenty lines) rather than a
 * router package: the dev server has a dozen routes and no path syntax to learn.
 */
export type RouteHandler = (request: Request, url: URL, params: string[]) => Promise<Response> | Response;

export interface Route {
  /** Any method when absent. */
  method?: string;
  path: string | readonly string[] | RegExp;
  handle: RouteHandler;
}

/** The first route matching `method` and `path`, with the path's RegExp groups. */
export function matchRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== undefined && route.method !== method) continue;
    if (route.path instanceof RegExp) {
      const m = route.path.exec(path);
      if (m) return { route, params: m.slice(1) as string[] };
    } else if (typeof route.path === 'string' ? route.path === path : route.path.includes(path)) {
      return { route, params: [] };
    }
  }
  return undefined;
}
