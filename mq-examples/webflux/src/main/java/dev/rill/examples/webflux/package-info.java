/** A Spring WebFlux application on the Rill Spring Boot starter; see {@link dev.rill.examples.webflux.OrdersApplication}. */
package dev.rill.examples.webflux;
