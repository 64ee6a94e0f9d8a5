package com.example.inventory

import org.springframework.http.HttpStatus
import org.springframework.http.ResponseEntity
import org.springframework.kafka.core.KafkaTemplate
import org.springframework.web.bind.annotation.GetMapping
import org.springframework.web.bind.annotation.PathVariable
import org.springframework.web.bind.annotation.PostMapping
import org.springframework.web.bind.annotation.RequestBody
import org.springframework.web.bind.annotation.RequestMapping
import org.springframework.web.bind.annotation.RestController

data class StockChange(val sku: String, val delta: Int)

@RestController
@RequestMapping("/items")
class ItemController(
    private val items: ItemRepository,
    private val kafka: KafkaTemplate<String, String>,
) {
    @GetMapping
    fun list(): List<Item> = items.findAll().toList()

    @GetMapping("/{sku}")
    fun get(@PathVariable sku: String): ResponseEntity<Item> =
        items.findBySku(sku)?.let { ResponseEntity.ok(it) } ?: ResponseEntity.notFound().build()

    @PostMapping
    fun create(@RequestBody item: Item): ResponseEntity<Item> {
        if (item.sku.isBlank()) return ResponseEntity.badRequest().build()
        return ResponseEntity.status(HttpStatus.CREATED).body(items.save(item.copy(id = null)))
    }

    @PostMapping("/stock")
    fun adjust(@RequestBody change: StockChange): ResponseEntity<Item> {
        val item = items.findBySku(change.sku) ?: return ResponseEntity.notFound().build()
        val updated = items.save(item.copy(quantity = item.quantity + change.delta))
        kafka.send(STOCK_TOPIC, updated.sku, updated.quantity.toString())
        return ResponseEntity.ok(updated)
    }

    companion object {
        const val STOCK_TOPIC = "inventory.stock"
    }
}
