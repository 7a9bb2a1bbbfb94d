# workerd config for the conformance suite, the cross-runtime matrix and the fallback check.
# The Worker is test/runtimes/hosts/workerd.ts bundled by scripts/runtimes/build.ts (esbuild) into
# .build/runtimes/workerd.mjs. scripts/runtimes/hosts.ts starts it as
#   workerd serve test/runtimes/workerd/suite.capnp -s http=127.0.0.1:0 -d fixtures=<repo> --control-fd=3
# and reads the port workerd picked from the control descriptor. No nodejs_compat flag: the core
# must run on the Web platform APIs alone, and workerd refuses eval / new Function.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .suiteWorker),
    # The repository, read-only, so cases can read fixtures by path (overridden with -d).
    (name = "fixtures", disk = (path = "../../..", writable = false)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const suiteWorker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "../../../.build/runtimes/workerd.mjs") ],
  compatibilityDate = "2025-09-01",
  bindings = [ (name = "FIXTURES", service = "fixtures") ],
);
