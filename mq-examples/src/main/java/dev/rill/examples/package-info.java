/** Small runnable examples of Rill; each class has a {@code main}. */
package dev.rill.examples;
