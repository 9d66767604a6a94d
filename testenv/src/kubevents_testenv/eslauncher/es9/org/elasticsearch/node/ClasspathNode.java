// kubevents test environment: an Elasticsearch 9 node whose only plugin is netty4 (HTTP),
// taken from the classpath (see ClasspathPluginsService). 9.x hands plugin layers to the node
// through a PluginsLoader; this one has no bundles. The node is constructed directly, not
// through Elasticsearch's bootstrap, so 9.x's entitlement checks (set up by that bootstrap from
// a distribution's layout) are not installed.
package org.elasticsearch.node;

import java.util.List;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

final class ClasspathNode {
    private ClasspathNode() {}

    static Node create(Environment env, boolean mainInfo) {
        if (mainInfo) {
            throw new UnsupportedOperationException("main-info: GET / is served on 8.x only");
        }
        NodeServiceProvider services = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment environment, PluginsLoader loader) {
                return new ClasspathPluginsService(
                    environment.settings(), environment, List.of(Netty4Plugin.class));
            }
        };
        PluginsLoader loader = ClasspathPluginsService.emptyLoader();
        return new Node(NodeConstruction.prepareConstruction(env, loader, services, true));
    }
}
