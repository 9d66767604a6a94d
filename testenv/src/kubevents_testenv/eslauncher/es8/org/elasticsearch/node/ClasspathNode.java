// kubevents test environment: an Elasticsearch 8 node whose only plugin is netty4 (HTTP),
// taken from the classpath (see ClasspathPluginsService).
package org.elasticsearch.node;

import java.util.List;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

final class ClasspathNode {
    private ClasspathNode() {}

    static Node create(Environment env) {
        NodeServiceProvider services = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment environment, Settings nodeSettings) {
                return new ClasspathPluginsService(
                    nodeSettings, environment, List.of(Netty4Plugin.class));
            }
        };
        return new Node(NodeConstruction.prepareConstruction(env, services, true));
    }
}
