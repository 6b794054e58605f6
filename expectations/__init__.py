"""Quality gates as code: one Great Expectations suite builder per outgoing feed, plus input gates.

``supplier_replenishment`` gates each supplier's replenishment feed; ``order_lines`` gates
the bronze order lines the feeds are computed from; ``gate`` runs a suite on a pandas
batch, keeps the result in the lake and builds the Data Docs. Great Expectations is
imported only when a gate runs (it takes seconds to import).
"""
