// y2j reads multi-document YAML on standard input and prints it as a JSON array, one element per document,
// decoded with sigs.k8s.io/yaml: the YAML 1.1 reader kubectl and client-go use. Tests feed it what tollgate
// writes (rendered objects, kubeconfigs) to prove that kubectl reads the values tollgate meant.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	docs := []json.RawMessage{}
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "document %d: %v\n", len(docs), err)
			os.Exit(1)
		}
		docs = append(docs, js)
	}
	out, _ := json.Marshal(docs)
	fmt.Println(string(out))
}
