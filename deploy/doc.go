// Package deploy holds no code: its tests check the deployment files next
// to it (Kubernetes manifests, compose file, systemd unit, Prometheus rules
// and Grafana dashboard) offline, and that every metric they query is one
// regsync exports; and one runs a real Prometheus server with the rules
// against a live regsync serve.
//
// It is a Go module of its own so that the libraries those checks need
// (k8s.io/api, compose-go, Prometheus' PromQL parser) stay out of
// regsync's go.mod. "make test" runs it.
package deploy
