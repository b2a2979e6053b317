"""The courier's dispatch pages in the courier portal: route offers and "My route"."""
