// Command bad-go prints a new UUID. Its go.mod is deliberately broken.
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewString())
}
