package com.example.inventory

import org.springframework.data.annotation.Id
import org.springframework.data.relational.core.mapping.Table
import org.springframework.data.repository.CrudRepository

@Table("items")
data class Item(
    @Id val id: Long? = null,
    val sku: String,
    val name: String,
    val quantity: Int = 0,
)

interface ItemRepository : CrudRepository<Item, Long> {
    fun findBySku(sku: String): Item?
}
