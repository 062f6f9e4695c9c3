package com.example.edgeguard;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies EdgeGuard's {@code X-EdgeGuard-Signature} (docs/signing.md) and exposes the
 * verified client IP and country as request attributes; anything else gets a 401.
 *
 * <p>Read the client from {@code request.getAttribute(EdgeGuardSignatureFilter.CLIENT_IP)},
 * never from {@code getRemoteAddr()} or a raw header: only values listed in the signature's
 * {@code h=} are vouched for, and a pod inside the cluster can send any header it likes.
 *
 * <p>Register it before every other filter (see README.md), so it sees the request target
 * and headers as they arrived, not as a forwarded-headers wrapper rewrote them.
 */
public class EdgeGuardSignatureFilter implements Filter {
    /** The signature header EdgeGuard writes ({@code signing.header}). */
    public static final String HEADER = "X-EdgeGuard-Signature";
    /** Request attribute: the verified client IP ({@code x-real-ip}), or null if not signed. */
    public static final String CLIENT_IP = "edgeguard.clientIp";
    /** Request attribute: the verified country code ({@code x-geo-country}), or null if not signed. */
    public static final String COUNTRY = "edgeguard.country";
    /** Request attribute: every signed header, lower-case name to value, in signed order. */
    public static final String SIGNED_HEADERS = "edgeguard.signedHeaders";

    private static final Pattern KID = Pattern.compile("[A-Za-z0-9._-]{1,32}");
    private static final Pattern TIMESTAMP = Pattern.compile("[0-9]{1,19}");
    private static final Pattern SIG = Pattern.compile("[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]");
    private static final Pattern NAME = Pattern.compile("[a-z0-9!#$%&'*+.^_`|~-]+");

    private final Map<String, byte[]> keys;
    private final long maxSkewSeconds;
    private final List<String> exemptPaths;
    private final Clock clock;

    /**
     * @param keys key id to key bytes: the current key and, during a rotation, the previous one
     * @param maxSkew EdgeGuard's {@code signing.maxSkew} (default 5 minutes)
     * @param exemptPaths path prefixes served without a signature, e.g. "/actuator/health" for
     *     kubelet probes, which reach the pod directly and never carry one
     */
    public EdgeGuardSignatureFilter(Map<String, byte[]> keys, Duration maxSkew, List<String> exemptPaths) {
        this(keys, maxSkew, exemptPaths, Clock.systemUTC());
    }

    EdgeGuardSignatureFilter(Map<String, byte[]> keys, Duration maxSkew, List<String> exemptPaths, Clock clock) {
        this.keys = Map.copyOf(keys);
        this.maxSkewSeconds = maxSkew.toSeconds();
        this.exemptPaths = List.copyOf(exemptPaths);
        this.clock = clock;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        // getRequestURI() and getQueryString() are the raw, undecoded request target.
        String uri = req.getRequestURI();
        if (exemptPaths.stream().anyMatch(p -> uri.equals(p) || uri.startsWith(p + "/"))) {
            chain.doFilter(request, response);
            return;
        }
        String query = req.getQueryString();
        String path = query == null ? uri : uri + "?" + query;
        String host = req.getHeader("Host") == null ? "" : req.getHeader("Host");
        try {
            String value = req.getHeader(HEADER);
            if (value == null) {
                throw new SignatureException("missing");
            }
            Map<String, String> signed = verify(value, req.getMethod(), host, path,
                    name -> joinedHeader(req, name), keys, clock.instant().getEpochSecond(), maxSkewSeconds);
            req.setAttribute(SIGNED_HEADERS, signed);
            req.setAttribute(CLIENT_IP, signed.get("x-real-ip"));
            req.setAttribute(COUNTRY, signed.get("x-geo-country"));
        } catch (SignatureException e) {
            HttpServletResponse res = (HttpServletResponse) response;
            res.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
            res.setContentType("text/plain;charset=UTF-8");
            res.getWriter().write("invalid edge signature: " + e.code + "\n");
            return;
        }
        chain.doFilter(request, response);
    }

    /** All lines of a header joined with ", " (a duplicated signed header then fails), or null. */
    private static String joinedHeader(HttpServletRequest req, String name) {
        List<String> lines = Collections.list(req.getHeaders(name));
        return lines.isEmpty() ? null : String.join(", ", lines);
    }

    /** Why a signature was refused; {@code code} matches the test vectors' error names. */
    public static final class SignatureException extends Exception {
        private static final long serialVersionUID = 1L;
        /** One of malformed, unsupported-version, unknown-key, stale, future, missing-header,
         *  bad-signature, or missing (no signature header at all). */
        public final String code;

        SignatureException(String code) {
            super(code);
            this.code = code;
        }
    }

    /** Removes HTTP optional whitespace (spaces and tabs only) around a value. */
    private static String trimOws(String s) {
        int start = 0, end = s.length();
        while (start < end && (s.charAt(start) == ' ' || s.charAt(start) == '\t')) {
            start++;
        }
        while (end > start && (s.charAt(end - 1) == ' ' || s.charAt(end - 1) == '\t')) {
            end--;
        }
        return s.substring(start, end);
    }

    /**
     * Verifies one header value (docs/signing.md, "Verifying"); returns the signed headers.
     * Strings are as a servlet container hands them over (header bytes decoded as
     * ISO-8859-1); {@code now} and {@code maxSkew} are in seconds.
     */
    public static Map<String, String> verify(String value, String method, String host, String path,
            Function<String, String> header, Map<String, byte[]> keys, long now, long maxSkew)
            throws SignatureException {
        String[] parts = trimOws(value).split(";", -1);
        if (!parts[0].equals("v1")) {
            throw new SignatureException(parts[0].matches("v[0-9]+") ? "unsupported-version" : "malformed");
        }
        String[] want = {"kid=", "t=", "h=", "sig="};
        if (parts.length != 5) {
            throw new SignatureException("malformed");
        }
        for (int i = 0; i < 4; i++) {
            if (!parts[i + 1].startsWith(want[i])) {
                throw new SignatureException("malformed");
            }
            parts[i + 1] = parts[i + 1].substring(want[i].length());
        }
        String kid = parts[1], t = parts[2], sig = parts[4];
        List<String> names = parts[3].isEmpty() ? List.of() : List.of(parts[3].split(",", -1));
        if (!KID.matcher(kid).matches() || !TIMESTAMP.matcher(t).matches() || !SIG.matcher(sig).matches()
                || names.size() > 64 || new HashSet<>(names).size() != names.size()
                || !names.stream().allMatch(n -> NAME.matcher(n).matches())) {
            throw new SignatureException("malformed");
        }
        byte[] key = keys.get(kid);
        if (key == null) {
            throw new SignatureException("unknown-key");
        }
        long timestamp = Long.parseLong(t);
        if (now - timestamp > maxSkew) {
            throw new SignatureException("stale");
        }
        if (timestamp - now > maxSkew) {
            throw new SignatureException("future");
        }
        Map<String, String> signed = new LinkedHashMap<>();
        List<String> lines = new ArrayList<>(List.of("v1", method, trimOws(host), path, t));
        for (String name : names) {
            String v = header.apply(name);
            if (v == null) {
                throw new SignatureException("missing-header");
            }
            v = trimOws(v);
            signed.put(name, v);
            lines.add(name + ":" + v);
        }
        // Servlet containers decode header bytes as ISO-8859-1: encoding back with it restores
        // the bytes EdgeGuard signed (the UTF-8 of a geo value written with `encoding: raw`).
        byte[] canonical = String.join("\n", lines).getBytes(StandardCharsets.ISO_8859_1);
        byte[] expected;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            expected = Base64.getUrlEncoder().withoutPadding().encode(mac.doFinal(canonical));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
        // Constant-time comparison: equals() would leak how many leading bytes matched.
        if (!MessageDigest.isEqual(expected, sig.getBytes(StandardCharsets.US_ASCII))) {
            throw new SignatureException("bad-signature");
        }
        return Collections.unmodifiableMap(signed);
    }
}
