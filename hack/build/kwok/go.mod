// Builds the kwok controller (Kubernetes WithOut Kubelet) for the fleet test bed (version pinned in hack/versions.env).
module task-api.io/hack/build/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0
