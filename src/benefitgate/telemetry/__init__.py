"""Metrics and traces: what the service tells its operators. The lowest layer: any
package may import it, and it imports no other package of the service."""
