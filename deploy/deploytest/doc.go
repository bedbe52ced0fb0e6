// Package deploytest checks the deployment files under deploy/: the compose
// stack loads with the compose-spec loader and has every service the
// deployment needs, the Kubernetes overlays render with kustomize into
// objects that decode strictly into the Kubernetes API types, and the
// systemd units pass systemd-analyze verify with their hardening in place.
// The role configuration files of each pass the roles' own -check-config.
//
// It is a module of its own (deploy/go.mod), so that the compose, kustomize
// and Kubernetes libraries stay out of kuzet's module; `make test` runs it.
// The package has tests only.
package deploytest
