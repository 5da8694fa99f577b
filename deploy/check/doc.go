// Package check holds the static checks of liqstream's deployment files, as
// Go tests: the Dockerfiles of deploy/docker (parsed with BuildKit's
// parser), the Kubernetes manifests of deploy/k8s (decoded strictly into
// k8s.io/api types, their embedded service configs decoded strictly into the
// services' Config types and validated) and deploy/docker-compose.yml
// (loaded and validated with compose-go, the loader of `docker compose`).
// No container engine runs: everything is checked from the files.
package check
