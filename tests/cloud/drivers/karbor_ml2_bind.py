"""ML2 mechanism driver for the karbor test cloud: binds ports, plugs nothing.

The cloud runs no Neutron agent and has no data plane, so no agent would ever
bind a port or report it up. This driver binds every port that gets a host
(Nova sets ``binding:host_id`` to the fake compute host) on its first segment,
with the ``ovs`` VIF type that Nova's fake driver ignores, and marks it ACTIVE
at once, as an agent would after wiring it. Loaded by ML2 through the entry
point ``karbor_bind`` that the launcher writes into the venv.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api

VIF_DETAILS = {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False,
               portbindings.VIF_DETAILS_BRIDGE_NAME: 'br-int',
               portbindings.OVS_DATAPATH_TYPE: 'system',
               portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2}


class BindEverywhereDriver(api.MechanismDriver):
    """Bind any port with a host, whatever its segment type."""

    def initialize(self):
        """Nothing to set up: there is no agent or backend to reach."""

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE) not in (None, portbindings.VNIC_NORMAL):
            return  # no device to pass through here: ML2 reports binding_failed
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS, dict(VIF_DETAILS),
                                status=constants.PORT_STATUS_ACTIVE)
            return
