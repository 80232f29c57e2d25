// kstatus computes the status that sigs.k8s.io/cli-utils' kstatus library (what Flux and kpt use to decide whether
// an applied object is healthy) gives each object read from stdin: one object, or a List as `kubectl get -o json`
// prints it. One JSON line per object: {"kind", "name", "status", "message"} (status: InProgress, Failed, Current,
// Terminating, NotFound or Unknown), plus "error" when the library could not compute it.
//
// Built by hack/kstatus/build.sh into ~/.cache/task-api/kstatus/; run by tests/e2e/test_gitops.py against live
// objects of the test bed.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: reading stdin: %v\n", err)
		os.Exit(2)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(data); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: stdin is not a Kubernetes object or List: %v\n", err)
		os.Exit(2)
	}
	items := []unstructured.Unstructured{obj}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
			os.Exit(2)
		}
		items = list.Items
	}
	out := json.NewEncoder(os.Stdout)
	for i := range items {
		r := result{Kind: items[i].GetKind(), Name: items[i].GetName()}
		computed, err := status.Compute(&items[i])
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Status, r.Message = string(computed.Status), computed.Message
		}
		if err := out.Encode(r); err != nil {
			os.Exit(2)
		}
	}
}
