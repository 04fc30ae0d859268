// Package check tests what deploy/ ships to operators: the Helm chart, the
// compose files, the Dockerfile, the systemd units and the example
// configurations. It is a module of its own (deploy/check/go.mod) so that
// the libraries that read them (Helm, the Compose specification, BuildKit's
// Dockerfile parser) stay out of sluice's module: they never reach the
// sluice binary, and they do not move the versions of the libraries sluice
// itself is built with. The tests run the sluice binary they build from the
// tree for `sluice config check`.
package check
