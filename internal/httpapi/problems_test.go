package httpapi

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProblemCodesAreDocumented checks that the problem codes the API
// answers, the table of the package documentation and the OpenAPI
// document's list agree.
func TestProblemCodesAreDocumented(t *testing.T) {
	t.Parallel()
	answered := map[string]int{}
	for code, kind := range problemKinds {
		answered[code] = kind.status
	}

	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	tabled := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^//\t([a-z_]+) +([0-9]{3}) +\S`).FindAllStringSubmatch(string(doc), -1) {
		tabled[m[1]], err = strconv.Atoi(m[2])
		require.NoError(t, err)
	}
	require.Equal(t, answered, tabled, "the table in doc.go")

	var openAPI struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &openAPI))
	require.ElementsMatch(t, slices.Collect(maps.Keys(answered)), openAPI.Components.Schemas.Problem.Properties.Code.Enum, "the enum in openapi.json")
}
