// kubevents test environment: one Elasticsearch 8 or 9 node from the Maven Central jars.
//
// Arguments: home directory, HTTP port, transport port, and optionally "main-info". The node is
// single-node on 127.0.0.1 with the netty4 transport (HTTP) as its plugin, and with
// "main-info" (Elasticsearch 8 only) also GET / (MainInfoPlugin); it prints a line once it has
// started. How the node is constructed differs per major version: ClasspathNode, in es8/ or es9/.
// In package org.elasticsearch.node because the node's construction hooks are package-private.
package org.elasticsearch.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;

public class KubeventsElasticsearchNode {
    public static final String STARTED = "kubevents-elasticsearch-node: started";

    public static void main(String[] args) throws Exception {
        LogConfigurator.loadLog4jPlugins();
        LogConfigurator.configureESLogging();
        Path home = Path.of(args[0]);
        for (String dir : List.of("modules", "plugins", "config")) {
            Files.createDirectories(home.resolve(dir));
        }
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("cluster.name", "kubevents-test")
            .put("node.name", "node-1")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), null, () -> "node-1");
        boolean mainInfo = args.length > 3 && args[3].equals("main-info");
        Node node = ClasspathNode.create(env, mainInfo);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        node.start();
        System.out.println(STARTED);
        Thread.currentThread().join();
    }
}
