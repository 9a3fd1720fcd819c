package dev.rill.spring;

/** {@link StarterUnderBlockHound} on the starter's in-memory broker. */
class InMemoryStarterBlockHoundTest extends StarterUnderBlockHound {

    @Override
    String[] brokerProperties() {
        return new String[0];
    }
}
