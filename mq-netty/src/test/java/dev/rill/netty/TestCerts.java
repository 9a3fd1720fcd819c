package dev.rill.netty;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Certificates made at test time with BouncyCastle: self-signed or issued by a test CA, valid for 127.0.0.1 and localhost. */
record TestCerts(PrivateKey key, X509Certificate cert) {

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    static TestCerts selfSigned(String cn) {
        return make(cn, null, Duration.ofMinutes(-1), Duration.ofDays(1), false, "127.0.0.1", "localhost");
    }

    /** @return a self-signed CA that can issue certificates ({@link #issue}) */
    static TestCerts ca(String cn) {
        return make(cn, null, Duration.ofMinutes(-1), Duration.ofDays(1), true);
    }

    /** @return a certificate for 127.0.0.1 and localhost signed by this CA, valid from now+from to now+to */
    TestCerts issue(String cn, Duration from, Duration to) {
        return make(cn, this, from, to, false, "127.0.0.1", "localhost");
    }

    /** @return a certificate signed by this CA, valid now, for the names given only */
    TestCerts issueFor(String cn, String... names) {
        return make(cn, this, Duration.ofMinutes(-1), Duration.ofDays(1), false, names);
    }

    private static TestCerts make(String cn, TestCerts issuer, Duration from, Duration to, boolean ca,
            String... names) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            KeyPair kp = g.generateKeyPair();
            long now = System.currentTimeMillis();
            X500Name name = new X500Name("CN=" + cn);
            X500Name issuerName = issuer == null ? name
                    : new X500Name(issuer.cert().getSubjectX500Principal().getName());
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
                    BigInteger.valueOf(SERIAL.incrementAndGet()), new Date(now + from.toMillis()),
                    new Date(now + to.toMillis()), name, kp.getPublic());
            if (ca) {
                b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            }
            if (names.length > 0) {
                GeneralName[] sans = new GeneralName[names.length];
                for (int i = 0; i < names.length; i++) {
                    sans[i] = Character.isDigit(names[i].charAt(0))
                            ? new GeneralName(GeneralName.iPAddress, names[i])
                            : new GeneralName(GeneralName.dNSName, names[i]);
                }
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
            }
            PrivateKey signer = issuer == null ? kp.getPrivate() : issuer.key();
            X509Certificate cert = new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
            return new TestCerts(kp.getPrivate(), cert);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
