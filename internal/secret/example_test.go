package secret_test

import (
	"errors"
	"fmt"

	"github.com/regsync/regsync/internal/secret"
)

func ExampleKeyring_Seal() {
	// In production the spec comes from REGSYNC_SECRET_KEY or
	// REGSYNC_SECRET_KEY_FILE.
	spec, err := secret.GenerateKey("k1")
	if err != nil {
		panic(err)
	}
	ring, err := secret.ParseKeyring(spec)
	if err != nil {
		panic(err)
	}

	// The context names the row and field the value is stored in.
	const context = "regsync.transfers/trf_abc/auth_info"
	sealed := ring.Seal([]byte("Xy7!pQ2z"), context)
	fmt.Println(sealed.KeyID, len(sealed.Ciphertext), "bytes")

	authInfo, err := ring.Open(sealed, context)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(authInfo))

	// Copied to another row, the value does not open.
	_, err = ring.Open(sealed, "regsync.transfers/trf_xyz/auth_info")
	fmt.Println(errors.Is(err, secret.ErrDecrypt))
	// Output:
	// k1 36 bytes
	// Xy7!pQ2z
	// true
}
