"""Quality measurement of the NLU: evaluation against peers, noise benchmark."""
