package envconfig

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) Getenv {
	return func(key string) string { return vars[key] }
}

func TestSecret(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("s3cret\n"), 0o600))

	got, err := Secret(env(map[string]string{"K_FILE": file}), "K")
	require.NoError(t, err)
	require.Equal(t, "s3cret", got)
	got, err = Secret(env(map[string]string{"K": "direct"}), "K")
	require.NoError(t, err)
	require.Equal(t, "direct", got)

	_, err = Secret(env(map[string]string{"K": "direct", "K_FILE": file}), "K")
	require.ErrorContains(t, err, "not both")
	require.NotContains(t, err.Error(), "direct")
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	_, err = Secret(env(map[string]string{"K_FILE": empty}), "K")
	require.ErrorContains(t, err, "is empty")
	_, err = Secret(env(map[string]string{"K_FILE": "/nonexistent"}), "K")
	require.ErrorContains(t, err, "K_FILE")
	_, err = Secret(env(nil), "K")
	require.EqualError(t, err, "K is not set")

	got, err = OptionalSecret(env(nil), "K")
	require.NoError(t, err)
	require.Empty(t, got, "an optional secret may be left out")
	got, err = OptionalSecret(env(map[string]string{"K_FILE": file}), "K")
	require.NoError(t, err)
	require.Equal(t, "s3cret", got)
}

func TestDurationAndInt(t *testing.T) {
	t.Parallel()
	d, err := Duration(env(nil), "D", time.Second)
	require.NoError(t, err)
	require.Equal(t, time.Second, d)
	d, err = Duration(env(map[string]string{"D": "90s"}), "D", time.Second)
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, d)
	_, err = Duration(env(map[string]string{"D": "soon"}), "D", time.Second)
	require.ErrorContains(t, err, "D: ")

	n, err := Int(env(nil), "N", 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = Int(env(map[string]string{"N": "7"}), "N", 2)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	_, err = Int(env(map[string]string{"N": "seven"}), "N", 2)
	require.ErrorContains(t, err, "N: ")
}
