"""The whole product's entry points: the `leadflow` command line, `leadflow up`'s
supervisor and embedded stack, `tail`, and the dry runs that chain the services. This
package sits above the four services and may import any of them; nothing imports it."""
