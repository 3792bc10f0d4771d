// Package envconfig reads settings from environment variables: secrets
// given inline or in a file named by the variable with _FILE appended,
// durations and integers. Every error names the variable and never holds
// a secret.
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Getenv reads a variable; os.Getenv in production.
type Getenv func(key string) string

// Secret reads a secret from the variable key, or from the file named by
// key_FILE (trailing newlines trimmed). Setting both, or neither, is an
// error.
func Secret(getenv Getenv, key string) (string, error) {
	secret, err := OptionalSecret(getenv, key)
	if err == nil && secret == "" {
		return "", errors.New(key + " is not set")
	}
	return secret, err
}

// OptionalSecret is [Secret] for a secret that may be left out: it
// returns "" when neither key nor key_FILE is set.
func OptionalSecret(getenv Getenv, key string) (string, error) {
	value, file := getenv(key), getenv(key+"_FILE")
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("set %s or %s_FILE, not both", key, key)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", key, err)
		}
		secret := strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			return "", fmt.Errorf("%s_FILE: file %s is empty", key, file)
		}
		return secret, nil
	default:
		return value, nil
	}
}

// Duration reads a Go duration such as "90s" from key, or returns
// fallback when key is not set.
func Duration(getenv Getenv, key string, fallback time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

// Int reads a decimal integer from key, or returns fallback when key is
// not set.
func Int(getenv Getenv, key string, fallback int) (int, error) {
	v := getenv(key)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}
