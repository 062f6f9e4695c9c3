package rehearsal;

import com.example.edgeguard.EdgeGuardSignatureFilter;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.valves.RemoteIpValve;
import org.apache.catalina.valves.ValveBase;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/**
 * The shop application of `cargo xtask rehearsal`: embedded Tomcat with the valve Spring Boot
 * installs under Kubernetes, and two contexts:
 *
 * <ul>
 *   <li>{@code /seed}: the application as the seed ran it, before EdgeGuard (no filter);
 *   <li>everything else: the application with {@code examples/spring}'s
 *       {@link EdgeGuardSignatureFilter} registered first.
 * </ul>
 *
 * <p>Both answer, as JSON, what the application sees: {@code getRemoteAddr()}, the
 * {@code X-Forwarded-For} left after {@code RemoteIpValve}, the one that arrived, the identity
 * headers and what the filter verified.
 *
 * <p>Arguments: listen address, port, base directory. Environment: EDGEGUARD_SIGNING_KEY_ID,
 * EDGEGUARD_SIGNING_KEY.
 */
public final class RehearsalApp {
    /** Request attribute holding X-Forwarded-For as it arrived, before RemoteIpValve. */
    static final String ARRIVED_XFF = "rehearsal.arrivedXff";

    /**
     * Spring Boot 3.5's {@code server.tomcat.remoteip.internal-proxies} default
     * (ServerProperties.Tomcat.Remoteip), character for character.
     */
    static final String SPRING_BOOT_INTERNAL_PROXIES = "10\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|" // 10/8
            + "192\\.168\\.\\d{1,3}\\.\\d{1,3}|" // 192.168/16
            + "169\\.254\\.\\d{1,3}\\.\\d{1,3}|" // 169.254/16
            + "127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|" // 127/8
            + "100\\.6[4-9]{1}\\.\\d{1,3}\\.\\d{1,3}|" // 100.64.0.0/10
            + "100\\.[7-9]{1}\\d{1}\\.\\d{1,3}\\.\\d{1,3}|" // 100.64.0.0/10
            + "100\\.1[0-1]{1}\\d{1}\\.\\d{1,3}\\.\\d{1,3}|" // 100.64.0.0/10
            + "100\\.12[0-7]{1}\\.\\d{1,3}\\.\\d{1,3}|" // 100.64.0.0/10
            + "172\\.1[6-9]{1}\\.\\d{1,3}\\.\\d{1,3}|" // 172.16/12
            + "172\\.2[0-9]{1}\\.\\d{1,3}\\.\\d{1,3}|" // 172.16/12
            + "172\\.3[0-1]{1}\\.\\d{1,3}\\.\\d{1,3}|" // 172.16/12
            + "0:0:0:0:0:0:0:1|" // 0:0:0:0:0:0:0:1
            + "::1|" // ::1
            + "fe[89ab]\\p{XDigit}:.*|" //
            + "f[cd]\\p{XDigit}{2}+:.*";

    private RehearsalApp() {}

    /**
     * The valve as Spring Boot 3.5's TomcatWebServerFactoryCustomizer.customizeRemoteIpValve
     * builds it for {@code server.forward-headers-strategy=native} (or a detected Kubernetes)
     * with every {@code server.tomcat.remoteip.*} property at its default: protocol header
     * X-Forwarded-Proto, Tomcat's own remote-IP header (X-Forwarded-For), no trusted proxies,
     * Spring Boot's internal proxies, X-Forwarded-Host, X-Forwarded-Port, "https". Spring adds
     * it to the engine's pipeline (addEngineValves).
     */
    static RemoteIpValve springBootNativeValve() {
        RemoteIpValve valve = new RemoteIpValve();
        valve.setProtocolHeader("X-Forwarded-Proto");
        valve.setTrustedProxies(null);
        valve.setInternalProxies(SPRING_BOOT_INTERNAL_PROXIES);
        valve.setHostHeader("X-Forwarded-Host");
        valve.setPortHeader("X-Forwarded-Port");
        valve.setProtocolHeaderHttpsValue("https");
        return valve;
    }

    /** Keeps X-Forwarded-For as it arrived, so the answer can show what the valve changed. */
    static final class ArrivedValve extends ValveBase {
        ArrivedValve() {
            super(true);
        }

        @Override
        public void invoke(Request request, Response response) throws IOException, ServletException {
            List<String> lines = Collections.list(request.getHeaders("X-Forwarded-For"));
            if (!lines.isEmpty()) {
                request.setAttribute(ARRIVED_XFF, String.join(", ", lines));
            }
            getNext().invoke(request, response);
        }
    }

    /** Answers what the application sees, as one JSON object. */
    static final class EchoServlet extends HttpServlet {
        private static final long serialVersionUID = 1L;

        @Override
        protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
            Map<String, Object> out = new TreeMap<>();
            out.put("remoteAddr", req.getRemoteAddr());
            out.put("path", req.getRequestURI());
            out.put("xForwardedFor", joined(req, "X-Forwarded-For"));
            Object arrived = req.getAttribute(ARRIVED_XFF);
            out.put("xForwardedForArrived", arrived == null ? null : arrived.toString());
            Map<String, Object> headers = new TreeMap<>();
            for (String name : Collections.list(req.getHeaderNames())) {
                headers.put(name.toLowerCase(java.util.Locale.ROOT), joined(req, name));
            }
            out.put("headers", headers);
            out.put("verifiedClientIp", req.getAttribute(EdgeGuardSignatureFilter.CLIENT_IP));
            out.put("verifiedCountry", req.getAttribute(EdgeGuardSignatureFilter.COUNTRY));
            out.put("verifiedHeaders", req.getAttribute(EdgeGuardSignatureFilter.SIGNED_HEADERS));
            byte[] body = (Json.write(out) + "\n").getBytes(StandardCharsets.UTF_8);
            res.setStatus(200);
            res.setContentType("application/json");
            res.setContentLength(body.length);
            res.getOutputStream().write(body);
        }

        private static String joined(HttpServletRequest req, String name) {
            List<String> lines = Collections.list(req.getHeaders(name));
            return lines.isEmpty() ? null : String.join(", ", lines);
        }
    }

    /** Just enough JSON: maps, strings, null. */
    static final class Json {
        static String write(Object value) {
            StringBuilder out = new StringBuilder();
            write(value, out);
            return out.toString();
        }

        private static void write(Object value, StringBuilder out) {
            if (value == null) {
                out.append("null");
            } else if (value instanceof Map<?, ?> map) {
                out.append('{');
                List<String> parts = new ArrayList<>();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    StringBuilder part = new StringBuilder();
                    write(e.getKey().toString(), part);
                    part.append(':');
                    write(e.getValue(), part);
                    parts.add(part.toString());
                }
                out.append(String.join(",", parts)).append('}');
            } else {
                String s = value.toString();
                out.append('"');
                for (char c : s.toCharArray()) {
                    if (c == '"' || c == '\\') {
                        out.append('\\').append(c);
                    } else if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
                out.append('"');
            }
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: RehearsalApp ADDRESS PORT BASEDIR");
        }
        String keyId = System.getenv("EDGEGUARD_SIGNING_KEY_ID");
        String key = System.getenv("EDGEGUARD_SIGNING_KEY");
        if (keyId == null || key == null) {
            throw new IllegalStateException("EDGEGUARD_SIGNING_KEY_ID and EDGEGUARD_SIGNING_KEY must be set");
        }

        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(args[2]);
        Connector connector = new Connector("HTTP/1.1");
        connector.setProperty("address", args[0]);
        connector.setPort(Integer.parseInt(args[1]));
        tomcat.setConnector(connector);
        tomcat.getEngine().getPipeline().addValve(new ArrivedValve());
        tomcat.getEngine().getPipeline().addValve(springBootNativeValve());

        // The application as the seed ran it: no EdgeGuard, no filter.
        Context seed = tomcat.addContext("/seed", new File(args[2]).getAbsolutePath());
        Tomcat.addServlet(seed, "echo", new EchoServlet());
        seed.addServletMapping("/*", "echo");

        // With EdgeGuard: examples/spring's filter first, as its README registers it
        // (key from the environment, strip()ped, 5 minutes skew, /healthz exempt).
        Context shop = tomcat.addContext("", new File(args[2]).getAbsolutePath());
        EdgeGuardSignatureFilter filter = new EdgeGuardSignatureFilter(
                Map.of(keyId, key.strip().getBytes(StandardCharsets.UTF_8)), Duration.ofMinutes(5),
                List.of("/healthz"));
        FilterDef def = new FilterDef();
        def.setFilterName("edgeGuardSignature");
        def.setFilter(filter);
        shop.addFilterDef(def);
        FilterMap map = new FilterMap();
        map.setFilterName("edgeGuardSignature");
        map.addURLPattern("/*");
        shop.addFilterMapBefore(map);
        Tomcat.addServlet(shop, "echo", new EchoServlet());
        shop.addServletMapping("/*", "echo");

        tomcat.start();
        System.out.println("rehearsal app listening on " + args[0] + ":" + args[1]);
        tomcat.getServer().await();
    }
}
