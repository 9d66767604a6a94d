// kubevents test environment: an Elasticsearch 8 node whose plugins are netty4 (HTTP) and, on
// request, MainInfoPlugin (GET /), taken from the classpath (see ClasspathPluginsService).
package org.elasticsearch.node;

import java.util.List;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

final class ClasspathNode {
    private ClasspathNode() {}

    static Node create(Environment env, boolean mainInfo) {
        List<Class<? extends Plugin>> plugins = mainInfo
            ? List.of(Netty4Plugin.class, MainInfoPlugin.class)
            : List.of(Netty4Plugin.class);
        NodeServiceProvider services = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment environment, Settings nodeSettings) {
                return new ClasspathPluginsService(
                    nodeSettings, environment, plugins);
            }
        };
        return new Node(NodeConstruction.prepareConstruction(env, services, true));
    }
}
